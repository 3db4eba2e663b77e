// MailDev as the test kit runs it: the same server, kept up when a client hangs up in the
// middle of a reply. A Keycard a test has just stopped may drop its SMTP connection right after
// QUIT; MailDev answers on the dead socket and, unhandled, that EPIPE ends the process and with
// it every other test's inbox. Anything else still stops it.
"use strict";
const path = require("path");

process.on("uncaughtException", (err) => {
  if (err && (err.code === "EPIPE" || err.code === "ECONNRESET")) {
    console.error(`mail-catcher: a client hung up (${err.code}); still serving`);
    return;
  }
  console.error(err);
  process.exit(1);
});

const MailDev = require(path.resolve(process.env.MAILDEV_HOME, "node_modules/maildev/index.js"));
new MailDev().listen();
