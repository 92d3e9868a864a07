// A browser page whose platform authenticator is a virtual one (Chromium's
// CDP WebAuthn domain), as the passkey tests need it: ctap2.1, internal,
// resident keys, user verification, PRF unless `prf: false`. One
// definition for the e2e and package tests (TOOLCHAIN.md has the details).

/**
 * Opens a page in a new context of `browser` with a virtual authenticator.
 * `problems` collects the page's uncaught errors; `passkeys()` lists the
 * credentials the authenticator holds.
 */
export async function pageWithAuthenticator(browser, { prf = true, contextOptions = {} } = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, hasPrf: prf, automaticPresenceSimulation: true,
    },
  });
  const passkeys = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return { context, page, cdp, authenticatorId, problems, passkeys };
}
