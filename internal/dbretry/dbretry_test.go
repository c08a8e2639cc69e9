package dbretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestTransient(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		&pgconn.PgError{Code: "08006"}:                      true,
		&pgconn.PgError{Code: "40001"}:                      true,
		&pgconn.PgError{Code: "40P01"}:                      true,
		&pgconn.PgError{Code: "57P01"}:                      true,
		&pgconn.PgError{Code: "57P02"}:                      true,
		&pgconn.PgError{Code: "57P03"}:                      true,
		&pgconn.PgError{Code: "57014"}:                      false, // query cancelled
		&pgconn.PgError{Code: "23505"}:                      false,
		&pgconn.PgError{Code: "42P01"}:                      false,
		fmt.Errorf("load: %w", io.ErrUnexpectedEOF):         true,
		fmt.Errorf("load: %w", context.Canceled):            false,
		fmt.Errorf("load: %w", context.DeadlineExceeded):    false,
		errors.New("table t: want an integer"):              false,
		fmt.Errorf("x: %w", &pgconn.PgError{Code: "57P01"}): true,
	} {
		require.Equal(t, want, Transient(err), "%v", err)
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := Policy{Attempts: 3, Min: time.Microsecond, Max: time.Microsecond}
	tries := 0
	require.NoError(t, Do(ctx, p, func(context.Context) error {
		if tries++; tries < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	}))
	require.Equal(t, 3, tries)

	tries = 0
	err := Do(ctx, p, func(context.Context) error { tries++; return &pgconn.PgError{Code: "40P01"} })
	require.ErrorContains(t, err, "gave up after 3 tries")
	require.Equal(t, 3, tries)

	tries = 0
	err = Do(ctx, p, func(context.Context) error { tries++; return &pgconn.PgError{Code: "42601"} })
	require.Error(t, err)
	require.Equal(t, 1, tries, "not transient: no retry")

	cctx, cancel := context.WithCancel(ctx)
	tries = 0
	err = Do(cctx, Policy{Min: time.Hour}, func(context.Context) error {
		tries++
		cancel()
		return &pgconn.PgError{Code: "57P01"}
	})
	require.Error(t, err)
	require.Equal(t, 1, tries, "a cancelled context stops the retries")
}
