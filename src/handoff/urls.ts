/**
 * Braintrust links, built the way the seed says (path segments URL-encoded, spaces as %20).
 * The app URL is configurable: the embedded local server is not www.braintrust.dev.
 */
export const DEFAULT_APP_URL = 'https://www.braintrust.dev';

const seg = (s: string): string => encodeURIComponent(s);
const base = (appUrl: string): string => (appUrl || DEFAULT_APP_URL).replace(/\/+$/, '');

/** `<app>/app/<org>/p/<project>` */
export function projectUrl(appUrl: string, org: string, project: string): string {
  return `${base(appUrl)}/app/${seg(org)}/p/${seg(project)}`;
}

/** `<app>/app/<org>/p/<project>/experiments/<experiment-id>` */
export function experimentUrl(appUrl: string, org: string, project: string, experimentId: string): string {
  return `${projectUrl(appUrl, org, project)}/experiments/${seg(experimentId)}`;
}

/** `<app>/app/<org>/p/<project>/r/<trace-id>` */
export function traceUrl(appUrl: string, org: string, project: string, traceId: string): string {
  return `${projectUrl(appUrl, org, project)}/r/${seg(traceId)}`;
}

/** `<app>/app/<org>/p/<project>/experiments/<experiment-id>?r=<row id>`: one row (trace) of an experiment. */
export function experimentRowUrl(appUrl: string, org: string, project: string, experimentId: string, rowId: string): string {
  return `${experimentUrl(appUrl, org, project, experimentId)}?r=${seg(rowId)}`;
}
