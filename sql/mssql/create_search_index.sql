-- SQL Server: no search index is created, even where the server has Full-Text Search. A
-- full-text index finds words and word prefixes (CONTAINS "meou*"), never a piece inside a
-- word ("meou" in "timeout", "timeout" in "ReadTimeout"), which q= must find: as a filter
-- it would lose matches, and combined with LIKE so that it cannot, it saves no read (only
-- reading an event proves it holds no such piece), while every write would pay for it.
-- Searches use LIKE (search_index_state answers indexed = 0); README "Search" says more.
SELECT 0 AS indexed;
