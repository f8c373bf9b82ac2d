/** Release reports for CI: JUnit XML and a Markdown step summary, pure functions of a release. */
export { releaseToJUnit, xmlText } from './junit.js';
export { releaseToMarkdown, markdownCell } from './summary.js';
