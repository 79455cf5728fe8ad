// One type per API answer, named after its endpoint (docs/API.md; the exact
// answers are pinned in tests/golden/api_responses.json). The pages read
// these shapes as they are: no field is guessed under several names.
export type * from './common';
export type * from './auth';
export type * from './calls';
export type * from './registrations';
export type * from './stats';
export type * from './live';
export type * from './alerts';
