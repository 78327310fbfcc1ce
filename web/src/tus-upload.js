// One file through tus-js-client (the browser bundle /assets/tus.min.js sets window.tus): the session cookie
// goes with every request (same origin), the CSRF token as a header. A file chosen again after an
// interruption resumes from the offset the gateway stored (tus-js-client keeps the upload URL in
// localStorage under the file's fingerprint).

export function transferIdOf(url) {
  const path = new URL(url, window.location.origin).pathname;
  return path.slice(path.lastIndexOf('/') + 1);
}

function parseError(error) {
  const response = error && error.originalResponse;
  let body = null;
  if (response) {
    try {
      body = JSON.parse(response.getBody());
    } catch {
      body = null;
    }
  }
  return {status: response ? response.getStatus() : 0, code: body && body.error, message: body && body.message,
          location: response ? response.getHeader('Location') : null};
}

// Resolves {url} on success, {denied: true, message, url} when the policies refused the file early, or
// {error: text}. `uploadUrl` sends to an existing upload (a resubmission with new files).
export function sendWithTus(file, {metadata, csrfToken, onProgress, onResume, uploadUrl, lengthDeferred}) {
  return new Promise((resolve) => {
    if (!window.tus || !window.tus.isSupported) {
      resolve({error: 'this browser cannot upload files resumably (tus-js-client is not supported here)'});
      return;
    }
    const clean = Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined && value !== ''));
    const upload = new window.tus.Upload(file, {
      endpoint: '/files',
      uploadUrl: uploadUrl || null,
      uploadLengthDeferred: Boolean(lengthDeferred),
      metadata: clean,
      headers: csrfToken ? {'X-CSRF-Token': csrfToken} : {},
      chunkSize: 16 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000],
      removeFingerprintOnSuccess: true,
      storeFingerprintForResuming: !uploadUrl,
      onShouldRetry(error) {
        const status = parseError(error).status;
        // 4xx answers are final (denied, too large, forbidden) except a locked upload or too many at once.
        return !(status >= 400 && status < 500 && status !== 423 && status !== 429 && status !== 409);
      },
      onProgress: (sent, total) => onProgress && onProgress(sent, total),
      onSuccess: () => resolve({url: upload.url}),
      onError: (error) => {
        const parsed = parseError(error);
        if (parsed.status === 403 && parsed.code === 'denied') {
          resolve({denied: true, message: parsed.message || 'the policies refused this file',
                   url: upload.url || parsed.location || null});
        } else {
          resolve({error: parsed.message ? `${parsed.message} (HTTP ${parsed.status})` : String(error.message || error)});
        }
      },
    });
    if (uploadUrl) {
      upload.start();
      return;
    }
    upload.findPreviousUploads().then((previous) => {
      if (previous.length > 0) {
        previous.sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
        upload.resumeFromPreviousUpload(previous[0]);
        if (onResume) onResume();
      }
      upload.start();
    }, () => upload.start());
  });
}
