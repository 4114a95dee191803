import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.tsx';
import './ui/ui.css';

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// The service worker keeps the app shell for offline use (src/sw). Module
// workers: the build emits it as an ES module.
if ('serviceWorker' in navigator && location.protocol === 'https:') {
  navigator.serviceWorker
    .register('/sw.js', { type: 'module', scope: '/' })
    .catch((error: unknown) => {
      console.warn('service worker not registered', error);
    });
}
