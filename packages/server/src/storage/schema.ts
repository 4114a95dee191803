import type { Generated } from 'kysely';

/**
 * The database as Kysely sees it. Columns suffixed `_enc` hold FieldCipher
 * ciphertext; `_index` columns hold blind indexes. Timestamps are ISO-8601
 * text on both back ends so the same queries run on SQLite and PostgreSQL.
 */
export interface Tables {
  bulwark_meta: { key: string; value: string };
  users: {
    id: string;
    display_name_enc: string;
    email_enc: string | null;
    email_index: string | null;
    created_at: string;
  };
  settings: { key: string; value_enc: string; updated_at: string; revision: Generated<number> };
}
