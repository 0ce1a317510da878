// Runs an actions/github-script `script` the way the action does (an async function of github, context,
// core and require), against a fake GitHub API described by a JSON "world"; prints the calls it made.
// Usage: node github_script.js <script file> <world.json> <working directory>
const fs = require('fs');

const [scriptFile, worldFile, cwd] = process.argv.slice(2);
const script = fs.readFileSync(scriptFile, 'utf8');
const world = JSON.parse(fs.readFileSync(worldFile, 'utf8'));
process.chdir(cwd);
Object.assign(process.env, world.env || {});

const calls = [];
const endpoint = (name, answer) => async (params) => {
  calls.push({ call: name, params });
  return { data: answer(params) };
};
const pulls = world.pulls || [];
const github = {
  rest: {
    pulls: {
      list: endpoint('pulls.list', (p) => pulls.filter((pr) => pr.state === p.state
        && `${pr.head.repo.owner.login}:${pr.head.ref}` === p.head)),
      get: endpoint('pulls.get', (p) => {
        const found = pulls.find((pr) => pr.number === p.pull_number);
        if (!found) throw new Error(`404: no pull request ${p.pull_number}`);
        return found;
      }),
    },
    issues: {
      listComments: endpoint('issues.listComments', (p) => (world.comments || {})[p.issue_number] || []),
      updateComment: endpoint('issues.updateComment', () => ({})),
      createComment: endpoint('issues.createComment', () => ({})),
      listForRepo: endpoint('issues.listForRepo', (p) => (world.issues || []).filter((i) => i.state === p.state
        && i.labels.includes(p.labels))),
      create: endpoint('issues.create', () => ({})),
      update: endpoint('issues.update', () => ({})),
    },
  },
  paginate: async (method, params) => (await method(params)).data,
};
const core = {
  info: (message) => calls.push({ call: 'core.info', message }),
  warning: (message) => calls.push({ call: 'core.warning', message }),
};
const context = { repo: world.repo, payload: world.payload, runId: 1, serverUrl: 'https://github.example' };

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
new AsyncFunction('github', 'context', 'core', 'require', script)(github, context, core, require)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((error) => {
    process.stderr.write(String(error && error.stack));
    process.exit(1);
  });
