// Runs before `npm test` and `npm start`: the project brings its own Node 22 (the `node` dev
// dependency, first on PATH in npm scripts). Fail early and clearly when it is missing.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `This project needs Node >= 22.12, but npm scripts run Node ${process.version}.\n` +
      "`npm install` should have put Node 22 at node_modules/.bin/node (the `node` dev dependency, whose\n" +
      "install script package.json's allowScripts approves). Run `npm install` again, without --ignore-scripts.",
  );
  process.exit(1);
}
