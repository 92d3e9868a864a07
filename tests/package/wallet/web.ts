// Entry of the apps built against `--target web`: the module is plain ESM and
// fetches its wasm in init(), from the URL its own file names, which Vite and
// webpack both turn into an emitted asset.
import init from 'portal-backup';
import { ready } from './wallet';

await init();
ready();
