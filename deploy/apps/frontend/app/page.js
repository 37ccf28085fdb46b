// The home page. NEXT_PUBLIC_* values are inlined by `next build` (a later change to the
// environment changes nothing); APP_VERSION is read per request from the server's
// environment, so the page is rendered per request rather than prerendered at build time.
export const dynamic = 'force-dynamic';

const apiUrl = process.env.NEXT_PUBLIC_API_URL || 'http://127.0.0.1:8000';
const siteName = process.env.NEXT_PUBLIC_SITE_NAME || 'HomeGuru';

export default function Home() {
  const version = process.env.APP_VERSION || 'dev';
  return (
    <main>
      <h1>{siteName}</h1>
      <p>HomeGuru reference frontend.</p>
      <dl>
        <dt>API</dt>
        <dd id="api-url">{apiUrl}</dd>
        <dt>Version</dt>
        <dd id="version">{version}</dd>
      </dl>
    </main>
  );
}
