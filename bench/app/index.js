// The benchmark's app: a chain of five activities, and a fan-out.
const df = require('durable-functions');

df.app.activity('work', { handler: (n) => n + 1 });

df.app.orchestration('sequence5', function* (ctx) {
  let n = ctx.df.getInput();
  for (let i = 0; i < 5; i++) n = yield ctx.df.callActivity('work', n);
  return n;
});

df.app.orchestration('fanOut', function* (ctx) {
  const count = ctx.df.getInput();
  const tasks = [];
  for (let i = 0; i < count; i++) tasks.push(ctx.df.callActivity('work', i));
  const results = yield ctx.df.Task.all(tasks);
  return results.reduce((a, b) => a + b, 0);
});
