package postgres

import (
	"context"
	"fmt"

	"github.com/crmsync/crmsync/internal/stream"
)

// tableInfo is what the loader reads about a target table from the catalog. The column
// types come from here, not from stream.Column.Type: the migration is the one
// declaration of the schema, and a Go spelling that drifted from it cannot mislead the
// conversion, the staging table or the casts.
type tableInfo struct {
	// types maps each column to its type as format_type prints it ("bigint",
	// "numeric(12,2)", "timestamp with time zone", "text[]").
	types map[string]string
	// syncedAt: the table has synced_at, which the merge sets on every row it writes.
	syncedAt bool
	// deletedAt: the table has deleted_at, which deletions.go maintains.
	deletedAt bool
}

// typeOf returns the SQL type of table t's column col.
func (ti *tableInfo) typeOf(t, col string) (string, error) {
	typ, ok := ti.types[col]
	if !ok {
		return "", fmt.Errorf("table %s has no column %s", t, col)
	}
	return typ, nil
}

// tableInfos returns the catalog facts of every table of desc, reading the tables not
// seen before in one query. They are kept for the Loader's life: the schema changes
// only by migrations, which run before any load.
func (l *Loader) tableInfos(ctx context.Context, desc stream.Desc) (map[string]*tableInfo, error) {
	out := make(map[string]*tableInfo, len(desc.Tables))
	var missing []string
	for _, t := range desc.Tables {
		if ti, ok := l.tables.Load(t.Name); ok {
			out[t.Name] = ti.(*tableInfo)
		} else {
			missing = append(missing, t.Name)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := l.db.Query(ctx, `select n.name, a.attname, format_type(a.atttypid, a.atttypmod)
		from unnest($1::text[]) as n(name)
		join pg_attribute a on a.attrelid = n.name::regclass
		where a.attnum > 0 and not a.attisdropped`, missing)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %v: %w", missing, err)
	}
	defer rows.Close()
	read := map[string]*tableInfo{}
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			return nil, fmt.Errorf("read the columns of %v: %w", missing, err)
		}
		ti := read[table]
		if ti == nil {
			ti = &tableInfo{types: map[string]string{}}
			read[table] = ti
		}
		ti.types[col] = typ
		ti.syncedAt = ti.syncedAt || col == "synced_at"
		ti.deletedAt = ti.deletedAt || col == "deleted_at"
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %v: %w", missing, err)
	}
	for _, name := range missing {
		ti, ok := read[name]
		if !ok {
			return nil, fmt.Errorf("table %s has no columns", name)
		}
		l.tables.Store(name, ti)
		out[name] = ti
	}
	return out, nil
}
