import { defineConfig } from 'vitest/config';

// JSX goes through esbuild's automatic runtime, so no React plugin is needed.
// dist/.keep must survive the build (the Go embed directive needs dist/ to
// exist in a fresh checkout); scripts/keep-dist.mjs puts it back after Vite
// empties the folder.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      // Mantine marks its modules "use client" for React Server Components;
      // a client-only bundle has nothing to do with it.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      output: {
        manualChunks: {
          react: ['react', 'react-dom', 'react-dom/client', 'react-router'],
          mantine: ['@mantine/core', '@mantine/hooks', '@mantine/form', '@mantine/notifications', '@mantine/modals'],
          codemirror: ['@uiw/react-codemirror', '@codemirror/state', '@codemirror/view', '@codemirror/language', '@codemirror/lang-json'],
          charts: ['@mantine/charts', 'recharts'],
        },
      },
    },
  },
  server: {
    proxy: { '/api': process.env.ROUTEDECK_URL ?? 'http://127.0.0.1:8080' },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
