#!/usr/bin/env node
// Entry point for `ziggie` / `npx ziggie`. Node >= 22.18 runs the TypeScript sources directly
// (type stripping), so there is no build step between a checkout and a running gateway.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `ziggie: Node.js >= 22.18 is required (this is ${process.version}). Run it through npm scripts or npx, which use the Node 24 pinned in devDependencies.`,
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
