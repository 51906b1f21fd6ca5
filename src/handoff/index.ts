/** The exit handoff: summary builder, narrative renderer, validated atomic writer, Braintrust URLs. */
export * from './urls.js';
export * from './build.js';
export * from './narrative.js';
export * from './write.js';
