/// <reference types="vite-plugin-pwa/vanillajs" />

/** The build's name (vite.config.ts `define`), shown in the footer. */
declare const __ONESTEP_BUILD__: string;
