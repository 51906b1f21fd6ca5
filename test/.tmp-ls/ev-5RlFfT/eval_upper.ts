import { Eval, initDataset } from "braintrust";
const mode = process.env.EVAL_MODE ?? "good";
Eval("evproj", {
  experimentName: "upper-" + mode,
  data: initDataset("evproj", { dataset: "evalds" }),
  task: async (input: string) => mode === "good" ? input.toUpperCase() : (input === "abc" ? input.toUpperCase() : input),
  scores: [({ output, expected }) => ({ name: "exact", score: output === expected ? 1 : 0 })],
});
