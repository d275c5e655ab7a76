-- _cell.lua -- P, the cell prefix of the script's keys: "aa:" with one cell,
-- "aa:{ck}:" with several (docs/ARCHITECTURE.md, "Redis Cluster"); the tag
-- is read from KEYS[1], "aa:{ck}:..." or, for an operator's stream name,
-- "{ck}:...". Every name a script derives starts with P, so a script never
-- leaves the hash slot of its KEYS[1].
local P = string.match(KEYS[1], '^aa:({c%d+}):') or string.match(KEYS[1], '^({c%d+}):')
P = P and ('aa:' .. P .. ':') or 'aa:'
