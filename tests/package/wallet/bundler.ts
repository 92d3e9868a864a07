// Entry of the apps built against `--target bundler`: importing the package
// imports its .wasm as a module, which the bundler instantiates (webpack's
// asyncWebAssembly, vite-plugin-wasm) before this runs.
import { ready } from './wallet';

ready();
