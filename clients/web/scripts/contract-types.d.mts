/** Types of scripts/contract-types.mjs, for the test that checks the generated file. */
export const SCHEMA_DIR: string;
export const OUTPUT: string;
export function renderContractTypes(schemaDir?: string): string;
