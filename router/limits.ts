// Request limits of the API, shared by the server (which enforces them) and the client (which
// stays under them).

/** Largest request body read (413 past it): run inputs are a few KB; this only stops abuse. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most calls in one batch request (400 past it); the client batches at most this many. */
export const MAX_BATCH_SIZE = 32;
