// GET /api/health: 200 {"status":"ok","version":...} while the server runs. The version is
// APP_VERSION from the environment the server was started with (the image's build argument,
// or the git SHA given at start), read per request: force-dynamic keeps `next build` from
// answering it once, at build time.
export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json(
    { status: 'ok', version: process.env.APP_VERSION || 'dev' },
    { headers: { 'Cache-Control': 'no-store' } },
  );
}
