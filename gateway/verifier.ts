/**
 * The root package's `get2dial-gateway/verifier` export, kept for upstreams that import it from
 * there: the verifier itself is the workspace package `@get2dial/identity-verifier`
 * (packages/verifier), which depends on jose alone and is the one to install.
 */
export * from '@get2dial/identity-verifier';
