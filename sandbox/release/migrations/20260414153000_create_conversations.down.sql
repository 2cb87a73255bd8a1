DROP TABLE IF EXISTS conversation_members;
DROP TABLE IF EXISTS conversations;
