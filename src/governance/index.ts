/** Governance: a model version's lineage and its model card, read from the registry, tracking, releases and monitoring stores. */
export { buildLineage, CODE_REVISION_TAG, type GovernanceSources } from './lineage.js';
export { buildModelCard, cardToHtml, cardToMarkdown, CARD_TAGS } from './model-card.js';
