#!/usr/bin/env node
// Uploads one file to the Airlock gateway with tus-js-client, the resumable-upload client browsers use.
// Run by tests/gateway/e2e_test.cpp; prints one JSON line per event on stdout:
//   {"event":"paused","url":...,"bytes":N}   (with --pause-after: the upload stopped itself mid-way)
//   {"event":"success","url":...,"bytes":N}
//   {"event":"error","message":...,"status":N}
//
// usage: node upload.js --endpoint URL --token TOKEN --file PATH --filename NAME
//          [--workspace W] [--datasource D] [--filetype T] [--chunk-size BYTES]
//          [--pause-after BYTES --resume-when FILE]
// With --pause-after the client aborts once that many bytes were accepted, waits until FILE exists
// (the test meanwhile kills and restarts the gateway), then resumes the same upload from the server's offset.
'use strict';

const fs = require('fs');
const tus = require('tus-js-client');

function parseArguments(argv) {
  const options = {workspace: 'ws-e2e', datasource: 'ds-e2e', filetype: 'application/octet-stream'};
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) throw new Error(`bad argument ${name}`);
    options[name.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
  }
  for (const required of ['endpoint', 'token', 'file', 'filename']) {
    if (!options[required]) throw new Error(`--${required} is required`);
  }
  return options;
}

function print(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function waitForFile(path) {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (fs.existsSync(path)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}

function main() {
  const options = parseArguments(process.argv);
  const size = fs.statSync(options.file).size;
  const pauseAfter = options.pauseAfter !== undefined ? Number(options.pauseAfter) : undefined;
  let paused = false;

  const upload = new tus.Upload(fs.createReadStream(options.file), {
    endpoint: options.endpoint,
    uploadSize: size,
    chunkSize: options.chunkSize !== undefined ? Number(options.chunkSize) : Infinity,
    retryDelays: [100, 300, 1000, 2000, 4000],
    headers: {Authorization: `Bearer ${options.token}`},
    metadata: {
      filename: options.filename,
      workspace: options.workspace,
      datasource: options.datasource,
      filetype: options.filetype,
    },
    storeFingerprintForResuming: false,
    onChunkComplete: (chunkSize, accepted) => {
      if (pauseAfter === undefined || paused || accepted < pauseAfter || accepted >= size) return;
      paused = true;
      upload.abort().then(async () => {
        print({event: 'paused', url: upload.url, bytes: accepted});
        await waitForFile(options.resumeWhen);
        // A new stream from the start; tus-js-client asks the server for the offset (HEAD) and seeks.
        const resumed = new tus.Upload(fs.createReadStream(options.file), {...upload.options, uploadUrl: upload.url,
                                                                           onChunkComplete: undefined});
        resumed.start();
      });
    },
    onSuccess: () => print({event: 'success', url: upload.url, bytes: size}),
    onError: (error) => {
      const response = error.originalResponse;
      print({
        event: 'error',
        message: String(error.message || error),
        status: response ? response.getStatus() : 0,
        body: response ? response.getBody() : '',
      });
      process.exitCode = 1;
    },
  });
  upload.start();
}

try {
  main();
} catch (error) {
  print({event: 'error', message: String(error.message || error), status: 0});
  process.exitCode = 2;
}
