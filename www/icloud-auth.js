// iCloud (CloudKit Web Services) sign-in for the demo. The page talks to
// the local CloudKit stand-in (tests/standins/icloud.mjs); signing in opens
// its sign-in page (the page CloudKit's AUTHENTICATION_REQUIRED answer
// names in `redirectURL`), which posts `{ckWebAuthToken}` back to this
// window, as Apple's sign-in window does.
//
// A web auth token is good for one request, and every CloudKit answer
// carries the next one: the package reports each through onWebAuthToken,
// this keeps the newest in memory (never in storage) and gives it back from
// getWebAuthToken. The package asks once per flow; if it asks again before
// a new token came, CloudKit answered AUTHENTICATION_REQUIRED (the token
// expired or the user was signed out): then the user signs in again.


function signInError(message) {
  return Object.assign(new Error(message), { code: 'ICLOUD_TOKEN_UNAVAILABLE' });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function standInICloud(config) {
  const apiUrl = config.icloudApiUrl.replace(/\/+$/, '');
  const origin = new URL(apiUrl).origin;
  const signInUrl = `${apiUrl}/signin?${new URLSearchParams({ container: config.icloudContainer, environment: config.icloudEnvironment })}`;
  let token = null; // the newest web auth token
  let handedOut = true; // given to the package and no newer one reported since
  let pending = null; // { promise, open }
  let host = null; // where the sign-in step shows: the running action's box

  /**
   * Signs the user in. The sign-in window is a popup, which browsers open
   * only during a click: `openNow` when called from one; otherwise (the
   * package asking mid-flow) the step's button opens it.
   */
  function signIn(openNow, again = false) {
    if (pending) {
      if (openNow) pending.open();
      return pending.promise;
    }
    let popup = null;
    let timer = null;
    let onMessage;
    let open;
    const status = el('p', { class: 'small' });
    const button = el('button', { type: 'button', class: 'apple' }, 'Sign in with Apple ', el('small', {}, '(iCloud stand-in)'));
    const cancel = el('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const step = el(
      'div',
      { class: 'hint signin', role: 'status', 'data-wait': 'icloud' },
      el('strong', {}, 'iCloud sign-in'),
      status,
      el('div', { class: 'buttons' }, button, cancel),
    );
    const say = (text) => (status.textContent = text);

    const promise = new Promise((resolve, reject) => {
      const finish = (error) => {
        window.removeEventListener('message', onMessage);
        clearInterval(timer);
        if (popup && !popup.closed) popup.close();
        step.remove();
        pending = null;
        if (error) reject(error);
        else resolve(token);
      };
      onMessage = (event) => {
        // Only the stand-in's own sign-in window may hand over a token.
        if (event.origin !== origin || (popup && event.source !== popup)) return;
        const next = event.data?.ckWebAuthToken;
        if (typeof next !== 'string' || !next) return;
        token = next;
        handedOut = false;
        finish();
      };
      window.addEventListener('message', onMessage);
      cancel.addEventListener('click', () => finish(signInError('iCloud sign-in was cancelled')));
      open = () => {
        popup = window.open(signInUrl, 'icloud-signin', 'popup,width=480,height=600');
        if (!popup) {
          say('The browser blocked the sign-in window. Use the button to open it.');
          return;
        }
        say('Finish signing in with your Apple ID in the window that opened.');
        clearInterval(timer);
        // Closed without signing in: a token posted just before closing may still be on its way.
        timer = setInterval(() => {
          if (!popup.closed) return;
          clearInterval(timer);
          setTimeout(() => pending?.promise === promise && finish(signInError('iCloud sign-in was closed before it finished')), 500);
        }, 300);
      };
      button.addEventListener('click', () => open());
    });
    pending = { promise, open };
    say(again
      ? 'iCloud asks you to sign in again (your last sign-in expired, or you were signed out); what you started carries on once you have.'
      : 'iCloud asks you to sign in with your Apple ID.');
    (host ?? document.querySelector('main')).prepend(step);
    if (openNow) pending.open();
    return promise;
  }

  return {
    label: 'iCloud: local stand-in',
    note: 'The key is kept in your iCloud (the local CloudKit stand-in; you sign in on its page).',
    signedIn: () => token !== null,
    /** Where the sign-in step shows while an action runs (its outcome box). */
    showStepsIn(element) {
      host = element;
    },
    /** Called in the click: signs in now if no token is held. */
    prepare(method) {
      // A token the package spent without a newer one coming back is no use.
      if (method !== 'ICLOUD' || (token && !handedOut)) return Promise.resolve();
      return signIn(true);
    },
    /** The package's `icloud` option. */
    options: {
      container: config.icloudContainer,
      environment: config.icloudEnvironment,
      apiToken: config.icloudApiToken,
      apiUrl,
      getWebAuthToken(request) {
        // The package says when CloudKit refused the last token.
        if (request?.signInAgain) handedOut = true;
        if (token && !handedOut) {
          handedOut = true;
          return token;
        }
        // Asked again with no newer token: CloudKit wants a new sign-in.
        const again = token !== null;
        token = null;
        return signIn(false, again).then((fresh) => {
          handedOut = true;
          return fresh;
        });
      },
      onWebAuthToken(next) {
        token = next;
        handedOut = false;
      },
    },
  };
}

function unavailableICloud() {
  const fail = () => Promise.reject(signInError('This demo has no iCloud set up'));
  return {
    label: 'iCloud: not set up',
    note: 'This demo has no iCloud set up.',
    signedIn: () => false,
    showStepsIn() {},
    prepare: (method) => (method === 'ICLOUD' ? fail() : Promise.resolve()),
    options: undefined,
  };
}

export function connectICloud(config) {
  return config.icloudApiUrl ? standInICloud(config) : unavailableICloud();
}
