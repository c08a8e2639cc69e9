package textrequest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

var _ pipeline.Extractor = (*Extractor)(nil)

// pgType renders an information_schema column the way stream.Column.Type spells it.
func pgType(dataType, udt string, precision, scale *int) string {
	switch dataType {
	case "timestamp with time zone":
		return "timestamptz"
	case "ARRAY":
		return strings.TrimPrefix(map[string]string{"_text": "_text[]", "_int8": "_bigint[]"}[udt], "_")
	case "numeric":
		if precision != nil && scale != nil {
			return fmt.Sprintf("numeric(%d,%d)", *precision, *scale)
		}
	}
	return dataType
}

// TestDescMatchesMigration checks every table of every stream against the migrated
// schema: each column exists with the declared type, the key is the primary key, every
// table and column has a comment, and every table has raw (entities) and synced_at.
func TestDescMatchesMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	ex := newTestExtractor(t, nil)
	for _, d := range ex.Streams() {
		require.Equal(t, Source, d.Source)
		for _, tbl := range d.Tables {
			schema, name, ok := strings.Cut(tbl.Name, ".")
			require.True(t, ok)
			rows, err := pool.Query(ctx, `
				SELECT c.column_name, c.data_type, c.udt_name, c.numeric_precision, c.numeric_scale,
				       col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)
				FROM information_schema.columns c
				WHERE c.table_schema = $1 AND c.table_name = $2`, schema, name)
			require.NoError(t, err)
			types := map[string]string{}
			for rows.Next() {
				var col, dt, udt string
				var prec, scale *int
				var comment *string
				require.NoError(t, rows.Scan(&col, &dt, &udt, &prec, &scale, &comment))
				types[col] = pgType(dt, udt, prec, scale)
				require.NotNil(t, comment, "%s.%s has no COMMENT", tbl.Name, col)
			}
			require.NoError(t, rows.Err())
			require.NotEmpty(t, types, "table %s missing", tbl.Name)
			for _, c := range tbl.Columns {
				require.Contains(t, types, c.Name, "%s.%s", tbl.Name, c.Name)
				require.Equal(t, c.Type, types[c.Name], "%s.%s", tbl.Name, c.Name)
			}
			require.Contains(t, types, "synced_at", tbl.Name)
			if tbl.ParentKey == nil {
				require.Contains(t, types, "raw", tbl.Name)
			}
			// Every migrated column is one the stream fills (synced_at and deleted_at,
			// the loader's, aside).
			for col := range types {
				if col == "synced_at" || col == "deleted_at" {
					continue
				}
				require.True(t, slices.ContainsFunc(tbl.Columns, func(c stream.Column) bool { return c.Name == col }),
					"%s.%s is not filled by the stream", tbl.Name, col)
			}

			var pk []string
			require.NoError(t, pool.QueryRow(ctx, `
				SELECT array_agg(a.attname::text ORDER BY k.ord)
				FROM pg_index i
				CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
				WHERE i.indrelid = $1::regclass AND i.indisprimary`, tbl.Name).Scan(&pk))
			require.Equal(t, tbl.Key, pk, "primary key of %s", tbl.Name)

			var comment *string
			require.NoError(t, pool.QueryRow(ctx, `SELECT obj_description($1::regclass, 'pg_class')`, tbl.Name).Scan(&comment))
			require.NotNil(t, comment, "%s has no COMMENT", tbl.Name)
		}
	}
}
