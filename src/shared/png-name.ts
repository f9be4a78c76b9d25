/**
 * File names for what the page saves (a PNG, a gallery archive's entries, a morph video): one rule,
 * shared by the UI and the gallery.
 */

/** A file name from the prompt: letters and digits only, so nothing odd reaches the file system. */
export function pngName(prompt: string, seed: number): string {
  const slug =
    prompt
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'onestep';
  return `${slug}-${seed}.png`;
}
