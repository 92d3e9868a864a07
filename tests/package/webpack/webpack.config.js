// The settings a webpack 5 app needs for portal-backup: asyncWebAssembly for
// the `bundler` target, which imports its .wasm as an ES module; the `web`
// target needs nothing (webpack emits the wasm its init() fetches by URL).
import HtmlWebpackPlugin from 'html-webpack-plugin';

export default {
  mode: 'production',
  entry: './src/main.ts',
  experiments: { asyncWebAssembly: true },
  resolve: { extensions: ['.ts', '.js'] },
  // tsc checks the types (with both TypeScript majors) before the build.
  module: { rules: [{ test: /\.ts$/, loader: 'ts-loader', options: { transpileOnly: true } }] },
  plugins: [new HtmlWebpackPlugin({ template: './index.html' })],
};
