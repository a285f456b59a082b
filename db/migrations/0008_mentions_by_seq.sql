-- 0008: mentions by message (issue 13). history folds the mentions of a
-- page's messages into its entries: that reads mentions by (room, seq),
-- which 0004's primary key (user_id, room_id, seq) cannot seek without
-- knowing who was mentioned (through the room's members it read every
-- mention of each member in the room: 1.3 ms a page at 10,000, growing).
ALTER TABLE mentions ADD KEY mentions_room_seq (room_id, seq);
