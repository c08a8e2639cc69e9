package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/pressly/goose/v3"

	"github.com/crmsync/crmsync/internal/e164"
)

// backfillPhoneE164 is migration 00011, in Go because E.164 needs libphonenumber: it
// fills phone_e164 (added by 00010) on the rows loaded before it existed, with the very
// function the extractors use on load (internal/e164), so old and new rows agree. Each
// distinct phone is parsed once; its rows are updated in one statement per table.
//
// The region for numbers without a country code is CRMSYNC_PHONE_REGION when set (the
// migration runs inside crmsync, which has checked it), else each source's default:
// none for Leeloo, US for Text Request (DESIGN.md).
func backfillPhoneE164() *goose.Migration {
	return goose.NewGoMigration(11, &goose.GoFunc{RunTx: backfillPhoneE164Up},
		// 00010's Down drops the column; there is nothing to undo here.
		&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
}

func backfillPhoneE164Up(ctx context.Context, tx *sql.Tx) error {
	region, err := e164.Region(os.Getenv("CRMSYNC_PHONE_REGION"))
	if err != nil {
		return fmt.Errorf("CRMSYNC_PHONE_REGION: %w", err)
	}
	for _, t := range []struct{ table, phone, region string }{
		{"leeloo.people", "phone", ""},
		{"leeloo.orders", "phone", ""},
		{"leeloo.accounts", "phone", ""},
		{"textrequest.contacts", "phone_number", "US"},
		{"textrequest.conversations", "phone_number", "US"},
		{"textrequest.messages", "phone_number", "US"},
		{"textrequest.payments", "customer_phone", "US"},
	} {
		if region != "" {
			t.region = region
		}
		if err := backfillTable(ctx, tx, t.table, t.phone, t.region); err != nil {
			return fmt.Errorf("back-fill %s.phone_e164: %w", t.table, err)
		}
	}
	return nil
}

// backfillTable sets phone_e164 from the phone column on every row of table that has a
// phone and no phone_e164 yet.
func backfillTable(ctx context.Context, tx *sql.Tx, table, phoneCol, region string) error {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(
		`SELECT DISTINCT %s FROM %s WHERE %[1]s IS NOT NULL AND phone_e164 IS NULL`, phoneCol, table))
	if err != nil {
		return err
	}
	var phones, forms []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return err
		}
		if f, ok := e164.Format(p, region).(string); ok {
			phones, forms = append(phones, p), append(forms, f)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(phones) == 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, fmt.Sprintf(`
		UPDATE %s AS t SET phone_e164 = m.e164
		FROM unnest($1::text[], $2::text[]) AS m(phone, e164)
		WHERE t.%s = m.phone AND t.phone_e164 IS NULL`, table, phoneCol), phones, forms)
	return err
}
