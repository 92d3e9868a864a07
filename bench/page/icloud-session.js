// The iCloud half of the bench pages (flows.html, walltime.js): the
// package's `icloud` option with the functions a wallet gives it, which
// cannot cross page.evaluate. As docs/BROWSER.md asks of an app (and as
// tests/common/browser.rs's pages do): keep the newest web auth token
// CloudKit handed back (`onWebAuthToken`) and give it from
// `getWebAuthToken`; asked a second time in one call, CloudKit refused that
// token, so the user signs in again.
//
// The bench passes plain options: `icloud: {apiUrl, container, environment,
// apiToken, signInToken}`, where `signInToken` is a fresh token the bench
// had the stand-in issue (`POST /__control/tokens`, from Node: no request
// of the page) before the call. It is what a sign-in would give: used for
// the session's first call, and for a sign-in the package asks for; each
// such sign-in is counted (a flow that works needs none).

const session = { token: null, signIns: 0 };

/** The package's `icloud` option for one call (undefined without options.icloud). */
export function icloudFor(options) {
  if (!options.icloud) return undefined;
  const { signInToken, ...icloud } = options.icloud;
  let asked = 0;
  return {
    ...icloud,
    getWebAuthToken: () => {
      asked += 1;
      if (asked > 1) session.signIns += 1;
      if (session.token === null || asked > 1) session.token = signInToken;
      return session.token;
    },
    onWebAuthToken: (token) => {
      session.token = token;
    },
  };
}

/** Sign-ins the package asked for so far (after a refused token). */
export const icloudSignIns = () => session.signIns;
