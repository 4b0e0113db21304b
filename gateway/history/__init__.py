"""The records of every exchange: written on the stream's path (store.py, through group commits),
read by the API (history, search, a response's chain), summed (usage), kept for as long as they
should be (upkeep.py: heartbeat, crash sweep, retention) and exported; the chat messages as a
record keeps them (messages.py), the turns a continuation replays (turns.py), OpenAI's
conversations (conversations.py); and the routes that read them (`/history`, `/search`, `/usage`,
`/history/export`). Only routes.py and reports.py know Starlette.

May import: the top's leaves, observability, db, access, upstreams.
Public: `store.Store`, `store.Ending`, `store.TOTAL_CAP`, `turns.Turn`, `turns.Chain`, `turns.mine`,
`messages` (its names), `search.Search`, `conversations.Conversations`,
`conversations.ITEMS_FORMAT`, `conversations.Conversation`, `usage.Usage`, `usage.Price`,
`upkeep.Upkeep`, `upkeep.Retention`, `export` (its names), `fields` (its names), `routes.ROUTES`,
`routes.delete_record`.
"""
