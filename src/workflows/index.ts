/** Placeholder workflow barrel until the flywheel workflow lands (the lead overwrites this file). */
export async function flywheelWorkflow(): Promise<string> {
  return 'placeholder';
}
