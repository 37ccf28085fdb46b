// The reference frontend's Next.js settings.
//
// output 'standalone': `next build` writes .next/standalone/server.js with the few
// node_modules files the server needs (traced), so the runtime image holds no pnpm, no
// dev dependencies and no full node_modules. public/ and .next/static are not part of it:
// build.sh and the Dockerfile copy them in, as Next's docs say.
//
// The tracing root (and Turbopack's root, which must be the same) is this directory:
// otherwise Next looks for a lock file in the directories above, and a build under
// build/apps/ inside the probe repository would nest server.js under the path from there.
const root = import.meta.dirname;

/** @type {import('next').NextConfig} */
const nextConfig = {
  output: 'standalone',
  outputFileTracingRoot: root,
  turbopack: { root },
  // No image optimization (and no sharp, removed in package.json): the app has no images,
  // and nothing is fetched from remote hosts at build or run time.
  images: { unoptimized: true },
  poweredByHeader: false,
};

export default nextConfig;
