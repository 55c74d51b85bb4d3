// A browser-style client of ReefGuide API's live updates, with the official
// socket.io-client: connect with an access token, subscribe to one job, and print
// everything that happens as JSON lines on stdout until the job ends.
//
//   node client.mjs URL TOKEN JOB_ID [SECONDS]
//
// Exits 0 when the job has ended, 1 when the connection is refused, 2 after
// SECONDS (default 30) in any case.
import { io } from "socket.io-client";

const [url, token, jobId, seconds = "30"] = process.argv.slice(2);
const ENDED = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]);

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const socket = io(url, { auth: { token }, reconnection: false });

function finish(code) {
  socket.close();
  clearTimeout(deadline);
  process.exitCode = code;
}

const deadline = setTimeout(() => {
  print({ event: "timeout" });
  finish(2);
}, Number(seconds) * 1000);

socket.on("connect", () => {
  print({ event: "connect" });
  socket.emit("job:subscribe", { jobId: Number(jobId) }, (answer) => {
    print({ event: "ack", data: answer });
    if (ENDED.has(answer.status)) finish(0);
  });
});

socket.on("connect_error", (error) => {
  print({ event: "connect_error", message: error.message });
  finish(1);
});

socket.on("job:update", (update) => {
  if (update.jobId !== Number(jobId)) return;
  print({ event: "job:update", data: update });
  if (ENDED.has(update.status)) finish(0);
});
