// The root layout: plain HTML and inline styles, no web fonts (next/font/google would fetch
// from Google at build time, and the build must work offline).
export const metadata = {
  title: process.env.NEXT_PUBLIC_SITE_NAME || 'HomeGuru',
  description: 'HomeGuru reference frontend',
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', margin: '2rem' }}>{children}</body>
    </html>
  );
}
