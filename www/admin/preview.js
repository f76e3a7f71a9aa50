// The layer editor's live preview: the one place that renders a template for
// the console, so that moving it into the browser is a change of this file.
//
// For now the edge renders it: POST /render with "preview": true uses sample
// codes (SAMPLE-<POOL>-<n>) and the pools' real counts, and consumes nothing.
import { call } from './api.js';

/**
 * Renders `template` with `context` (e.g. {customer: {id}}); answers the HTML
 * output. Template errors throw an ApiError whose message names the line.
 */
export async function renderPreview(template, context) {
  const answer = await call('POST', '/render', { json: { template, context, preview: true } });
  return answer.output ?? '';
}

/** Where the preview comes from, shown under it. */
export const PREVIEW_ENGINE = 'rendered by the edge with sample codes; consumes nothing';
