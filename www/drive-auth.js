// Google Drive access for the demo: with a real OAuth client id configured,
// Google Identity Services' token model; otherwise the local Drive stand-in
// with a test token.

const DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive.appdata';
const GIS_SCRIPT = 'https://accounts.google.com/gsi/client';

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.onload = resolve;
    script.onerror = () => reject(new Error('Google sign-in could not be loaded'));
    document.head.append(script);
  });
}

function tokenError(message) {
  return Object.assign(new Error(message), { code: 'DRIVE_TOKEN_UNAVAILABLE' });
}

async function googleDrive(clientId) {
  await loadScript(GIS_SCRIPT);
  let token = null; // { value, expiresAt }
  let handedOut = true;
  let pending = null;
  let settle = () => {};
  const tokenClient = google.accounts.oauth2.initTokenClient({
    client_id: clientId,
    scope: DRIVE_SCOPE,
    callback: (response) => settle(response),
    error_callback: (error) => settle({ error: error?.type ?? 'unknown' }),
  });

  // Opens Google's consent popup; browsers allow that only during a click.
  function request() {
    pending ??= new Promise((resolve, reject) => {
      settle = (response) => {
        pending = null;
        if (response.error || !response.access_token) {
          const closed = response.error === 'popup_closed';
          return reject(tokenError(closed ? 'Google sign-in was closed' : (response.error_description ?? 'Google sign-in failed')));
        }
        token = { value: response.access_token, expiresAt: Date.now() + (Number(response.expires_in) - 60) * 1000 };
        handedOut = false;
        resolve(token.value);
      };
      tokenClient.requestAccessToken({ prompt: token ? '' : 'consent' });
    });
    return pending;
  }

  return {
    mode: 'google',
    label: 'Google Drive',
    note: 'The key is kept in a hidden app folder of your Google Drive (you will be asked to sign in).',
    apiUrl: undefined, // the package's default, https://www.googleapis.com
    prepare(method) {
      if (method !== 'GDRIVE') return Promise.resolve();
      if (token && Date.now() < token.expiresAt) {
        handedOut = false;
        return Promise.resolve();
      }
      return request();
    },
    // The package asks once per flow, and again if Drive calls the token expired.
    getDriveToken() {
      if (token && !handedOut && Date.now() < token.expiresAt) {
        handedOut = true;
        return token.value;
      }
      return request();
    },
  };
}

function standInDrive(config) {
  return {
    mode: 'stand-in',
    label: 'Google Drive: local stand-in (test account)',
    note: 'No Google client id is configured: the key goes to the local Drive stand-in, signed in with a test token.',
    apiUrl: config.driveApiUrl,
    prepare: () => Promise.resolve(),
    getDriveToken: () => config.driveToken,
  };
}

// Without Google's script (offline, blocked) the password method still works.
function unavailableDrive(reason) {
  const fail = () => Promise.reject(tokenError(reason));
  return {
    mode: 'google-unavailable',
    label: 'Google Drive: sign-in unavailable',
    note: `${reason}; back up with a password instead.`,
    apiUrl: undefined,
    prepare: (method) => (method === 'GDRIVE' ? fail() : Promise.resolve()),
    getDriveToken: fail,
  };
}

export async function connectDrive(config) {
  if (!config.googleClientId) return standInDrive(config);
  try {
    return await googleDrive(config.googleClientId);
  } catch (error) {
    return unavailableDrive(error.message);
  }
}
