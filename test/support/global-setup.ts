// Global test setup. The Temporal runtime issue replaces this with a shared dev server.
export async function setup(): Promise<void> {}
export async function teardown(): Promise<void> {}
