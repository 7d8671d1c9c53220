import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { trpc, useSignedOut } from './api.js';
import { useFeed } from './live.js';
import { RunList } from './RunList.js';
import { RunPage } from './RunPage.js';

/** `#/` is the run list, `#/runs/<id>` a run: a hash route needs nothing from the server. */
function useRoute(): { page: 'list' } | { page: 'run'; id: string } {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const m = /^#\/runs\/([^/?#]+)/.exec(hash);
  return m ? { page: 'run', id: decodeURIComponent(m[1]!) } : { page: 'list' };
}

export function App() {
  const route = useRoute();
  const feed = useFeed();
  const status = useQuery({ queryKey: ['status'], queryFn: () => trpc.daemon.status.query() });
  const signedOut = useSignedOut();
  return (
    <div className="app">
      <header className="top">
        <a href="#/" className="brand">
          loopd
        </a>
        {status.data && (
          <span className="muted">
            v{status.data.version} · {status.data.runs.RUNNING} running · {status.data.runs.PENDING} queued · {status.data.home}
          </span>
        )}
        <span className={`feed feed-${feed}`} data-testid="feed-state" title="live updates over server-sent events">
          {feed === 'live' ? '● live' : feed === 'connecting' ? '○ connecting' : '○ reconnecting'}
        </span>
      </header>
      {signedOut && (
        <p className="banner" data-testid="signed-out">
          This dashboard session has ended (the daemon's token changed, or seven days passed). Run <code>loopctl dashboard</code> to sign in again.
        </p>
      )}
      <main>{route.page === 'list' ? <RunList /> : <RunPage id={route.id} />}</main>
    </div>
  );
}
