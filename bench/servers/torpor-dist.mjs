// The CLI from its build, as `npx torpor` runs it once installed from npm: packages/cli/bin/torpor.js
// would pick this checkout's sources (src/main.ts exists here), so this does what it does for dist/.
const { run } = await import("../../packages/cli/dist/main.js");
await run(process.argv.slice(2));
