package leeloo

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

// The run's set of chats already read keeps only the current listing window and its
// overlap: a chat listed again in the overlap is not read twice, while the set does not
// grow with the account.
func TestChatsForgetBeforeWindow(t *testing.T) {
	t.Parallel()
	c := &chats{r: &run{req: stream.Request{FullRefresh: true}}, synced: newChatSet()}
	at := func(h int) FlexTime { return FlexTime{T: testNow.Add(time.Duration(h) * time.Hour), Valid: true} }

	for i, id := range []string{"a", "b", "c"} {
		require.True(t, toRead(c, chatRef{id: id, last: at(i * 10)}))
	}
	require.True(t, toRead(c, chatRef{id: "undated"}))
	require.False(t, toRead(c, chatRef{id: "c", last: at(20)}), "listed again in the overlap")

	c.forgetBefore(testNow.Add(15 * time.Hour)) // the next window starts after a and b
	require.Len(t, c.synced.cur, 2, "c (inside the window) and the undated chat stay")
	require.False(t, toRead(c, chatRef{id: "c", last: at(20)}))
	require.False(t, toRead(c, chatRef{id: "undated"}))
	require.True(t, toRead(c, chatRef{id: "a", last: at(30)}), "a new message moved a into this window")
}

// The v1 account listing keeps the chats of the current and the previous page only:
// one listed again on the next page (the list shifted) is not read twice, and the set
// does not grow with the accounts.
func TestChatsRememberTwoPagesOfAccounts(t *testing.T) {
	t.Parallel()
	c := &chats{r: &run{req: stream.Request{FullRefresh: true}}, synced: newChatSet()}
	for page := range 100 {
		c.nextPage()
		for i := range 50 {
			require.True(t, toRead(c, chatRef{id: fmt.Sprintf("acc-%d", page*50+i)}))
		}
		if page > 0 {
			require.False(t, toRead(c, chatRef{id: fmt.Sprintf("acc-%d", page*50-1)}), "listed again on the next page")
		}
	}
	require.LessOrEqual(t, len(c.synced.cur)+len(c.synced.prev), 100)
	c.nextPage()
	c.nextPage()
	require.True(t, toRead(c, chatRef{id: "acc-4999"}), "two pages on, a chat listed again is read again")
}

// toRead reports whether syncPage reads a chat listed as ref (full refresh: any chat
// not read yet in this run).
func toRead(c *chats, ref chatRef) bool {
	refs := c.unsynced([]chatRef{ref})
	return len(refs) == 1 && c.needsSync(refs[0])
}
