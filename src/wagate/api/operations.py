"""What /docs says about each operation: a summary, a description, and a real body and answer
in Evolution's shapes (from recorded Evolution exchanges where one exists).

Keyed by "METHOD path" as in the OpenAPI document; tests/api/test_docs.py fails when a route
has no entry, so a new route is documented when it is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NUMBER = "5511999999999"
JID = f"{NUMBER}@s.whatsapp.net"
GROUP = "120363025246125486@g.us"
KEY = {"remoteJid": JID, "fromMe": True, "id": "3EB0C431C26A1916E07E"}
MEDIA_URL = "https://example.com/picture.png"
SENT = {
    "key": KEY,
    "pushName": "",
    "status": "PENDING",
    "message": {"conversation": "Hello from wagate"},
    "contextInfo": None,
    "messageType": "conversation",
    "messageTimestamp": 1767225600,
    "instanceId": "0b4c9c7e-3f0a-4b8e-9d8e-2f6f1c1f5a10",
    "source": "unknown",
}
SUCCESS = {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}


@dataclass(frozen=True, slots=True)
class Doc:
    summary: str
    description: str
    body: Any = None
    reply: Any = None


TAGS: list[dict[str, Any]] = [
    {"name": "instance", "description": "Create, connect, watch and remove instances."},
    {"name": "message", "description": "Send messages (the instance must be `open`)."},
    {"name": "chat", "description": "Chats, stored messages, contacts, profile and privacy."},
    {"name": "group", "description": "Groups the instance belongs to."},
    {"name": "label", "description": "WhatsApp Business labels."},
    {"name": "call", "description": "Calls (refused: wagate places no calls)."},
    {"name": "settings", "description": "Per-instance behaviour (calls, groups, read receipts)."},
    {
        "name": "events",
        "description": "Where events go: webhook, websocket, RabbitMQ, NATS, SQS, Pusher.",
    },
    {"name": "proxy", "description": "The proxy stored per instance (Evolution's routes)."},
    {"name": "server", "description": "Welcome, health and key check."},
    {"name": "manager", "description": "The Manager web UI's own API."},
    {"name": "metrics", "description": "Prometheus metrics."},
    {"name": "sim", "description": "The simulated WhatsApp network (WAGATE_ENGINE=sim only)."},
]

PUBLIC = frozenset({"GET /", "GET /health", "GET /metrics"})
"""Operations that need no `apikey` (/metrics has its own optional basic auth and IP list)."""

_I = "/{instanceName}"
_NEEDS_OPEN = " The instance must be connected (`open`); otherwise the answer is 400."


def _transport(name: str, label: str) -> dict[str, Doc]:
    return {
        f"POST /{name}/set{_I}": Doc(
            f"Set the {label} sink",
            f"Enable or disable the instance's {label} events and choose which events it "
            "receives (an empty list means all). The answer is the stored configuration; 400 when "
            "the server runs without that transport.",
            body={name: {"enabled": True, "events": ["MESSAGES_UPSERT", "CONNECTION_UPDATE"]}},
        ),
        f"GET /{name}/find{_I}": Doc(
            f"Get the {label} sink",
            f"The instance's {label} configuration, or null when none is set.",
        ),
    }


OPERATIONS: dict[str, Doc] = {
    # --- server -------------------------------------------------------------------------
    "GET /": Doc(
        "Welcome",
        "Evolution's welcome document: version, client name, Manager and docs URLs, and "
        "wagate's own version and engine. Needs no key.",
        reply={
            "status": 200,
            "message": "Welcome to the Evolution API, it is working!",
            "version": "2.3.7",
            "clientName": "evolution_exchange",
            "manager": "http://127.0.0.1:8080/manager",
            "documentation": "http://127.0.0.1:8080/docs",
            "whatsappWebVersion": None,
            "wagate": {"version": "0.1.0", "engine": "neonize"},
        },
    ),
    "POST /verify-creds": Doc(
        "Check the global key",
        "200 when the `apikey` header holds the global key, 401 otherwise.",
        reply={"status": 200, "message": "Credentials are valid"},
    ),
    "GET /health": Doc(
        "Health",
        "Liveness and readiness: 200 when the database answers, 503 when it does not. "
        "Needs no key.",
        reply={
            "status": "ok",
            "live": True,
            "ready": True,
            "database": {"provider": "sqlite", "ok": True, "error": None},
            "engine": "neonize",
            "instances": 2,
        },
    ),
    "GET /metrics": Doc(
        "Prometheus metrics",
        "Instances by state, deliveries, retries and HTTP timings in Prometheus' text format. "
        "Guarded by METRICS_AUTH_* and METRICS_ALLOWED_IPS when set, not by the apikey.",
    ),
    "GET /manager/api/whoami": Doc(
        "What a key may see",
        "For the Manager: whether the key is the global key, and which instances it opens.",
        reply={"global": True, "instances": None, "events": ["CONNECTION_UPDATE"]},
    ),
    # --- instance -----------------------------------------------------------------------
    "POST /instance/create": Doc(
        "Create an instance",
        "Create an instance (one WhatsApp account). `integration` picks the channel "
        "(WHATSAPP-BAILEYS for WhatsApp Web). The answer's `hash` is the instance's token, shown "
        "only here. With `qrcode: true` the instance connects at once and the answer carries "
        "the first QR code. Settings, webhook and other sinks may be given here too.",
        body={
            "instanceName": "my-instance",
            "integration": "WHATSAPP-BAILEYS",
            "qrcode": False,
            "webhook": {
                "url": "https://example.com/hook",
                "byEvents": False,
                "base64": False,
                "events": ["MESSAGES_UPSERT", "CONNECTION_UPDATE"],
            },
        },
        reply={
            "instance": {
                "instanceName": "my-instance",
                "instanceId": "0b4c9c7e-3f0a-4b8e-9d8e-2f6f1c1f5a10",
                "integration": "WHATSAPP-BAILEYS",
                "webhookWaBusiness": None,
                "accessTokenWaBusiness": "",
                "status": "close",
            },
            "hash": "B1E7C3A2-5D4F-4E0B-9C1A-7F2E8D6B3A90",
            "webhook": {"webhookUrl": "https://example.com/hook", "webhookByEvents": False},
            "websocket": {},
            "rabbitmq": {},
            "nats": {},
            "sqs": {},
            "settings": {
                "rejectCall": False,
                "msgCall": "",
                "groupsIgnore": False,
                "alwaysOnline": False,
                "readMessages": False,
                "readStatus": False,
                "syncFullHistory": False,
                "wavoipToken": "",
            },
            "qrcode": {"count": 0},
        },
    ),
    f"GET /instance/connect{_I}": Doc(
        "Connect (QR code or pairing code)",
        "Start the instance's session and answer with the first QR code (`code`, `base64` PNG) "
        "or, with `?number=`, a pairing code to type on the phone. An instance already open "
        "answers with its state. With no code to show, `lifecycle` says why; when WhatsApp "
        "cannot be reached at all the answer is a 503 naming the cause (DNS, refused "
        "connection, proxy) and the action, not a 200 of empty codes.",
        reply={
            "pairingCode": None,
            "code": "2@y8bBkX…,…",
            "base64": "data:image/png;base64,iVBORw0KGgo…",
            "count": 1,
        },
    ),
    f"GET /instance/connectionState{_I}": Doc(
        "Connection state",
        "Evolution's `open`, `connecting` or `close`, answered from memory; wagate adds the "
        "richer state, its reason, a message and the action to take in `lifecycle`.",
        reply={
            "instance": {"instanceName": "my-instance", "state": "open"},
            "lifecycle": {"state": "open", "reason": 200, "message": "Connected", "action": None},
        },
    ),
    f"POST /instance/restart{_I}": Doc(
        "Restart the session",
        "Close and reopen a connected instance's session, keeping its credentials. 400 when "
        "the instance is not connected.",
        reply={"instance": {"instanceName": "my-instance", "state": "connecting"}},
    ),
    f"POST /instance/setPresence{_I}": Doc(
        "Set the account's presence",
        "Tell WhatsApp the account is `available` or `unavailable`." + _NEEDS_OPEN,
        body={"presence": "available"},
    ),
    f"DELETE /instance/logout{_I}": Doc(
        "Log out",
        "Unlink the device from the phone and forget its credentials; the instance stays and "
        "can be connected again. Succeeds also when the instance was not connected.",
        reply={
            "status": "SUCCESS",
            "error": False,
            "response": {"message": "Instance logged out"},
        },
    ),
    f"DELETE /instance/delete{_I}": Doc(
        "Delete the instance",
        "Log out if needed, then remove the instance, its settings, stored messages and "
        "credentials. 404 when it does not exist.",
        reply=SUCCESS,
    ),
    "GET /instance/fetchInstances": Doc(
        "List instances",
        "Every instance the key may see (the global key: all; an instance token: its own), "
        "optionally filtered by `instanceName`, `instanceId` or `number`.",
        reply=[
            {
                "id": "0b4c9c7e-3f0a-4b8e-9d8e-2f6f1c1f5a10",
                "name": "my-instance",
                "connectionStatus": "open",
                "ownerJid": JID,
                "profileName": "Ana",
                "integration": "WHATSAPP-BAILEYS",
                "number": None,
                "token": "B1E7C3A2-5D4F-4E0B-9C1A-7F2E8D6B3A90",
                "_count": {"Message": 12, "Contact": 3, "Chat": 2},
            }
        ],
    ),
    # --- settings, events, proxy ----------------------------------------------------------
    f"POST /settings/set{_I}": Doc(
        "Set the instance's settings",
        "Reject calls (with a message), ignore groups, stay online, read messages and statuses "
        "automatically, sync the full history at pairing.",
        body={
            "rejectCall": True,
            "msgCall": "busy",
            "groupsIgnore": True,
            "alwaysOnline": False,
            "readMessages": True,
            "readStatus": True,
            "syncFullHistory": False,
        },
        reply={
            "settings": {
                "instanceName": "my-instance",
                "settings": {
                    "rejectCall": True,
                    "msgCall": "busy",
                    "groupsIgnore": True,
                    "alwaysOnline": False,
                    "readMessages": True,
                    "readStatus": True,
                    "syncFullHistory": False,
                },
            }
        },
    ),
    f"GET /settings/find{_I}": Doc(
        "Get the instance's settings", "The settings stored for the instance."
    ),
    f"POST /webhook/set{_I}": Doc(
        "Set the webhook",
        "Where the instance's events are POSTed, which events (empty: all), extra headers, one "
        "URL per event (`byEvents`), media as base64, and an HMAC secret (wagate: each delivery "
        "is signed in `X-Signature-256`). Deliveries are durable and retried.",
        body={
            "webhook": {
                "enabled": True,
                "url": "https://example.com/hook",
                "headers": {"X-Fixture": "1"},
                "byEvents": False,
                "base64": False,
                "events": ["CONNECTION_UPDATE", "MESSAGES_UPSERT"],
            }
        },
        reply={
            "id": "clx0p1q2r0000abcd1234efgh",
            "url": "https://example.com/hook",
            "headers": {"X-Fixture": "1"},
            "enabled": True,
            "events": ["CONNECTION_UPDATE", "MESSAGES_UPSERT"],
            "webhookByEvents": False,
            "webhookBase64": False,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z",
            "instanceId": "0b4c9c7e-3f0a-4b8e-9d8e-2f6f1c1f5a10",
        },
    ),
    f"GET /webhook/find{_I}": Doc(
        "Get the webhook", "The instance's webhook configuration, or null when none is set."
    ),
    **_transport("websocket", "WebSocket (Socket.IO)"),
    **_transport("rabbitmq", "RabbitMQ"),
    **_transport("nats", "NATS"),
    **_transport("sqs", "Amazon SQS"),
    f"POST /pusher/set{_I}": Doc(
        "Set the Pusher sink",
        "Enable or disable the instance's Pusher events: the app (appId, key, secret, cluster, "
        "useTLS, all required when enabled) and which events it receives (an empty list means "
        "all). Events go to the channel named after the instance. 400 when the server runs "
        "without Pusher (PUSHER_ENABLED).",
        body={
            "pusher": {
                "enabled": True,
                "appId": "1234567",
                "key": "a1b2c3d4e5f6a7b8c9d0",
                "secret": "0f9e8d7c6b5a4f3e2d1c",
                "cluster": "eu",
                "useTLS": True,
                "events": ["MESSAGES_UPSERT"],
            }
        },
    ),
    f"GET /pusher/find{_I}": Doc(
        "Get the Pusher sink", "The instance's Pusher configuration, or null when none is set."
    ),
    f"GET /events/deliveries{_I}": Doc(
        "Recent webhook deliveries",
        "The instance's most recent deliveries, newest first, with their status (pending, "
        "delivered, failed), attempts and last error. A wagate addition.",
    ),
    f"POST /events/redeliver{_I}": Doc(
        "Deliver events again",
        "Queue the instance's stored events again, from a time (`since`) or an event id "
        "(`fromId`). A wagate addition.",
        body={"since": "2026-01-01T00:00:00Z"},
    ),
    f"POST /proxy/set{_I}": Doc(
        "Set the proxy",
        "Store the instance's HTTP or SOCKS proxy in Evolution's shape, after a TCP "
        "connection to it succeeds (400 when it does not answer); `enabled: false` removes "
        "it. The instance's sessions and media downloads go through it; without one, the "
        "global PROXY_* settings apply.",
        body={
            "enabled": True,
            "host": "proxy.example.com",
            "port": "3128",
            "protocol": "http",
            "username": "user",
            "password": "secret",
        },
    ),
    f"GET /proxy/find{_I}": Doc("Get the proxy", "The proxy stored for the instance, or none."),
    # --- message ------------------------------------------------------------------------
    f"POST /message/sendText{_I}": Doc(
        "Send a text",
        "Send a text to a number or a group JID, with an optional delay (typing shown), a "
        "quoted message, mentions and a link preview. The answer is the stored message."
        + _NEEDS_OPEN,
        body={"number": NUMBER, "text": "Hello from wagate"},
        reply=SENT,
    ),
    f"POST /message/sendMedia{_I}": Doc(
        "Send an image, video or document",
        "`media` is a URL or base64; or send multipart/form-data with a `file` part. A "
        "document needs a `fileName`." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "mediatype": "image",
            "mimetype": "image/png",
            "caption": "Our new logo",
            "media": MEDIA_URL,
            "fileName": "logo.png",
        },
    ),
    f"POST /message/sendPtv{_I}": Doc(
        "Send a round video note",
        "A video shown as a round video note; `video` is a URL or base64." + _NEEDS_OPEN,
        body={"number": NUMBER, "video": "https://example.com/note.mp4"},
    ),
    f"POST /message/sendWhatsAppAudio{_I}": Doc(
        "Send a voice note",
        "Audio sent as a voice note; converted to Ogg/Opus unless `encoding` is false."
        + _NEEDS_OPEN,
        body={"number": NUMBER, "audio": "https://example.com/voice.mp3"},
    ),
    f"POST /message/sendSticker{_I}": Doc(
        "Send a sticker",
        "An image sent as a sticker (converted to WebP)." + _NEEDS_OPEN,
        body={"number": NUMBER, "sticker": MEDIA_URL},
    ),
    f"POST /message/sendLocation{_I}": Doc(
        "Send a location",
        "A pin with a name and an address." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "latitude": -23.5505,
            "longitude": -46.6333,
            "name": "Praça da Sé",
            "address": "Sé, São Paulo - SP",
        },
    ),
    f"POST /message/sendContact{_I}": Doc(
        "Send contacts",
        "One or more contact cards." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "contact": [
                {
                    "fullName": "Ana Souza",
                    "wuid": "5511988887777",
                    "phoneNumber": "+55 11 98888-7777",
                    "organization": "Acme",
                    "email": "ana@example.com",
                }
            ],
        },
    ),
    f"POST /message/sendReaction{_I}": Doc(
        "React to a message",
        "An emoji reaction to the message `key` names; an empty reaction removes it."
        + _NEEDS_OPEN,
        body={"key": KEY, "reaction": "👍"},
    ),
    f"POST /message/sendPoll{_I}": Doc(
        "Send a poll",
        "A poll with its options and how many may be chosen." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "name": "Lunch?",
            "selectableCount": 1,
            "values": ["Pizza", "Sushi", "Salad"],
        },
    ),
    f"POST /message/sendList{_I}": Doc(
        "Send a list",
        "A list message with sections of rows." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "title": "Menu",
            "description": "Choose a dish",
            "footerText": "Acme",
            "buttonText": "Open menu",
            "sections": [
                {
                    "title": "Mains",
                    "rows": [{"title": "Pizza", "description": "Margherita", "rowId": "p1"}],
                }
            ],
        },
    ),
    f"POST /message/sendButtons{_I}": Doc(
        "Send buttons",
        "A message with reply, URL, call or copy buttons." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "title": "Your order",
            "description": "Confirm it?",
            "footer": "Acme",
            "buttons": [{"type": "reply", "displayText": "Yes", "id": "yes"}],
        },
    ),
    f"POST /message/sendCarousel{_I}": Doc(
        "Send a carousel",
        "Cards (1 to 10) of text and buttons (1 to 3 each) that scroll sideways; one card is "
        "sent as a plain interactive message. Card images (`imageUrl`) answer 501; PIX "
        "buttons 400." + _NEEDS_OPEN,
        body={
            "number": NUMBER,
            "body": "Our shirts",
            "cards": [
                {
                    "title": "Red",
                    "body": "A red shirt",
                    "footer": "$10",
                    "buttons": [{"type": "reply", "displayText": "Buy", "id": "red"}],
                },
                {
                    "title": "Blue",
                    "body": "A blue shirt",
                    "buttons": [{"type": "reply", "displayText": "Buy", "id": "blue"}],
                },
            ],
        },  # fmt: skip
    ),
    f"POST /message/sendStatus{_I}": Doc(
        "Post a status",
        "A text, image, video or voice status, to the contacts named or to all." + _NEEDS_OPEN,
        body={
            "type": "text",
            "content": "Open until 6 pm today",
            "backgroundColor": "#008000",
            "font": 1,
            "allContacts": True,
        },
    ),
    f"POST /message/sendTemplate{_I}": Doc(
        "Send a template",
        "Meta Cloud API templates (WHATSAPP-BUSINESS instances); a WhatsApp Web instance "
        "answers 400, as Evolution does.",
        body={"number": NUMBER, "name": "hello_world", "language": "en_US"},
    ),
    # --- chat ---------------------------------------------------------------------------
    f"POST /chat/whatsappNumbers{_I}": Doc(
        "Which numbers are on WhatsApp",
        "For each number, whether it has a WhatsApp account and its JID." + _NEEDS_OPEN,
        body={"numbers": [NUMBER, "5511988887777"]},
        reply=[{"exists": True, "jid": JID, "number": NUMBER}],
    ),
    f"POST /chat/markMessageAsRead{_I}": Doc(
        "Mark messages as read",
        "Send read receipts for the messages named." + _NEEDS_OPEN,
        body={"readMessages": [{"remoteJid": JID, "fromMe": False, "id": "3EB0A0B1C2D3E4F5"}]},
        reply={"message": "Read messages", "read": "success"},
    ),
    f"POST /chat/markMessageAsPlayed{_I}": Doc(
        "Mark voice notes as played",
        "Send played receipts (the sender sees the blue microphone) for the messages named; "
        "chats that are neither a phone number nor a group are skipped." + _NEEDS_OPEN,
        body={"playedMessages": [{"remoteJid": JID, "fromMe": False, "id": "3EB0A0B1C2D3E4F5"}]},
        reply={"message": "Played messages", "played": "success"},
    ),
    f"POST /chat/getPollVote{_I}": Doc(
        "Count a poll's votes",
        "The votes stored for a poll the instance sent or received, counted: each voter's "
        "latest vote counts, an empty vote withdraws it. 404 when the poll is not stored.",
        body={"message": {"key": {"id": "3EB0A0B1C2D3E4F5"}}, "remoteJid": JID},
        reply={
            "poll": {
                "name": "Lunch?",
                "totalVotes": 1,
                "results": {
                    "Pizza": {"votes": 1, "voters": [JID]},
                    "Sushi": {"votes": 0, "voters": []},
                },
            }
        },
    ),  # fmt: skip
    f"POST /chat/findChannels{_I}": Doc(
        "List channels",
        "The channels (`@newsletter` chats) the instance has stored messages in, latest "
        "first, paged by `page` and `limit` (or `rows`).",
        body={"page": 1, "limit": 50},
    ),
    f"POST /chat/archiveChat{_I}": Doc(
        "Archive or unarchive a chat",
        "Archive (`archive: true`) or unarchive a chat, named by `chat` or by its last "
        "message." + _NEEDS_OPEN,
        body={"archive": True, "chat": JID},
    ),
    f"POST /chat/markChatUnread{_I}": Doc(
        "Mark a chat unread",
        "Mark the chat of `lastMessage` as unread." + _NEEDS_OPEN,
        body={"lastMessage": {"key": {"remoteJid": JID, "fromMe": False, "id": "3EB0A0B1"}}},
    ),
    f"DELETE /chat/deleteMessageForEveryone{_I}": Doc(
        "Delete a message for everyone",
        "Revoke a message for every participant." + _NEEDS_OPEN,
        body={"id": "3EB0C431C26A1916E07E", "fromMe": True, "remoteJid": JID},
    ),
    f"POST /chat/updateMessage{_I}": Doc(
        "Edit a sent text",
        "Replace the text of a message this account sent." + _NEEDS_OPEN,
        body={"number": NUMBER, "key": KEY, "text": "Hello again (edited)"},
    ),
    f"POST /chat/sendPresence{_I}": Doc(
        "Show typing or recording",
        "Show `composing` or `recording` in a chat for `delay` milliseconds." + _NEEDS_OPEN,
        body={"number": NUMBER, "presence": "composing", "delay": 1200},
    ),
    f"POST /chat/updateBlockStatus{_I}": Doc(
        "Block or unblock a contact",
        "`status` is `block` or `unblock`." + _NEEDS_OPEN,
        body={"number": NUMBER, "status": "block"},
    ),
    f"POST /chat/fetchProfilePictureUrl{_I}": Doc(
        "A contact's profile picture URL",
        "The URL of the number's profile picture, or null." + _NEEDS_OPEN,
        body={"number": NUMBER},
        reply={"wuid": JID, "profilePictureUrl": "https://pps.whatsapp.net/v/t61…"},
    ),
    f"POST /chat/getBase64FromMediaMessage{_I}": Doc(
        "Download a message's media",
        "The media of a stored message as base64 (video converted to MP4 on request).",
        body={"message": {"key": {"id": "3EB0A0B1C2D3E4F5"}}, "convertToMp4": False},
    ),
    f"POST /chat/findMessages{_I}": Doc(
        "Search stored messages",
        "Stored messages, newest first, filtered by chat (`where.key.remoteJid`), sender, "
        "type or time, paged with `page` and `offset` (page size).",
        body={"where": {"key": {"remoteJid": JID}}, "page": 1, "offset": 10},
        reply={"messages": {"total": 1, "pages": 1, "currentPage": 1, "records": [SENT]}},
    ),
    f"POST /chat/findStatusMessage{_I}": Doc(
        "Search message receipts",
        "Delivery and read receipts of stored messages, filtered by chat or message id.",
        body={"where": {"remoteJid": JID}, "page": 1, "offset": 10},
    ),
    f"POST /chat/findContacts{_I}": Doc(
        "Search contacts",
        "Stored contacts, all or those matching `where`.",
        body={"where": {"remoteJid": JID}},
    ),
    f"POST /chat/findChats{_I}": Doc(
        "List chats",
        "Stored chats with their last message and unread count, most recent first.",
        body={"where": {}, "skip": 0, "take": 20},
        reply=[
            {
                "id": "clx0p1q2r0000abcd1234efgh",
                "remoteJid": JID,
                "pushName": "Ana",
                "profilePicUrl": None,
                "updatedAt": "2026-01-01T00:00:00.000Z",
                "lastMessage": SENT,
                "unreadCount": 0,
                "archived": False,
                "labels": [],
                "isSaved": True,
            }
        ],
    ),
    f"GET /chat/findChatByRemoteJid{_I}": Doc(
        "Get one chat", "The stored chat with `remoteJid`, or 404."
    ),
    f"POST /chat/fetchProfile{_I}": Doc(
        "A profile",
        "Name, picture, status and business details of `number` (or of this account)."
        + _NEEDS_OPEN,
        body={"number": NUMBER},
    ),
    f"POST /chat/fetchBusinessProfile{_I}": Doc(
        "A business profile",
        "The business profile of `number`." + _NEEDS_OPEN,
        body={"number": NUMBER},
    ),
    f"POST /chat/updateProfileName{_I}": Doc(
        "Set this account's name", "The push name others see." + _NEEDS_OPEN, body={"name": "Acme"}
    ),
    f"POST /chat/updateProfileStatus{_I}": Doc(
        "Set this account's about text",
        "The 'about' text of this account." + _NEEDS_OPEN,
        body={"status": "Available 9-18h"},
    ),
    f"POST /chat/updateProfilePicture{_I}": Doc(
        "Set this account's picture",
        "A URL or base64 image." + _NEEDS_OPEN,
        body={"picture": MEDIA_URL},
    ),
    f"DELETE /chat/removeProfilePicture{_I}": Doc(
        "Remove this account's picture", "Remove the profile picture." + _NEEDS_OPEN
    ),
    f"GET /chat/fetchPrivacySettings{_I}": Doc(
        "Privacy settings", "Who sees last seen, picture, status, read receipts." + _NEEDS_OPEN
    ),
    f"POST /chat/updatePrivacySettings{_I}": Doc(
        "Set privacy settings",
        "Who sees what, and who may add this account to groups." + _NEEDS_OPEN,
        body={
            "readreceipts": "all",
            "profile": "contacts",
            "status": "contacts",
            "online": "all",
            "last": "contacts",
            "groupadd": "contacts",
        },
    ),
    # --- group --------------------------------------------------------------------------
    f"POST /group/create{_I}": Doc(
        "Create a group",
        "A group with a subject and participants (numbers)." + _NEEDS_OPEN,
        body={
            "subject": "Project team",
            "description": "Release planning",
            "participants": [NUMBER, "5511988887777"],
        },
    ),
    f"POST /group/updateGroupSubject{_I}": Doc(
        "Rename a group",
        "The group is named by `?groupJid=`." + _NEEDS_OPEN,
        body={"subject": "Project team (2026)"},
    ),
    f"POST /group/updateGroupDescription{_I}": Doc(
        "Set a group's description",
        "The group is named by `?groupJid=`." + _NEEDS_OPEN,
        body={"description": "Release planning and status"},
    ),
    f"POST /group/updateGroupPicture{_I}": Doc(
        "Set a group's picture",
        "A URL or base64 image; the group is named by `?groupJid=`." + _NEEDS_OPEN,
        body={"image": MEDIA_URL},
    ),
    f"GET /group/findGroupInfos{_I}": Doc(
        "A group's details", "Subject, owner, description and participants." + _NEEDS_OPEN
    ),
    f"GET /group/fetchAllGroups{_I}": Doc(
        "All groups",
        "Every group the account is in; `getParticipants=true` adds their members." + _NEEDS_OPEN,
    ),
    f"GET /group/participants{_I}": Doc(
        "A group's participants", "The members and their admin rank." + _NEEDS_OPEN
    ),
    f"GET /group/inviteCode{_I}": Doc(
        "A group's invite link", "The invite code and URL." + _NEEDS_OPEN
    ),
    f"GET /group/inviteInfo{_I}": Doc(
        "What an invite code opens", "The group an invite code leads to." + _NEEDS_OPEN
    ),
    f"GET /group/acceptInviteCode{_I}": Doc(
        "Join through an invite code", "Join the group of `inviteCode`." + _NEEDS_OPEN
    ),
    f"POST /group/sendInvite{_I}": Doc(
        "Send a group invite",
        "Send the group's invite link to numbers, with a message." + _NEEDS_OPEN,
        body={"groupJid": GROUP, "description": "Join us", "numbers": [NUMBER]},
    ),
    f"POST /group/revokeInviteCode{_I}": Doc(
        "Revoke the invite link",
        "Make a new invite code; the old one stops working." + _NEEDS_OPEN,
    ),
    f"POST /group/updateParticipant{_I}": Doc(
        "Add, remove, promote or demote",
        "`action` is add, remove, promote or demote; the group is named by `?groupJid=`."
        + _NEEDS_OPEN,
        body={"action": "add", "participants": [NUMBER]},
    ),
    f"POST /group/updateSetting{_I}": Doc(
        "Group settings",
        "`announcement`/`not_announcement` (who may send), `locked`/`unlocked` (who may edit)."
        + _NEEDS_OPEN,
        body={"action": "announcement"},
    ),
    f"POST /group/updateMemberAddMode{_I}": Doc(
        "Who may add participants",
        "`admin_add` (admins only) or `all_member_add` (any member), for the group named by "
        "`?groupJid=`. The neonize engine answers 501 (neonize does not offer it)." + _NEEDS_OPEN,
        body={"mode": "all_member_add"},
        reply={"update": "success", "mode": "all_member_add"},
    ),
    f"POST /group/toggleEphemeral{_I}": Doc(
        "Disappearing messages",
        "Seconds until messages disappear: 0 (off), 86400, 604800 or 7776000." + _NEEDS_OPEN,
        body={"expiration": 604800},
    ),
    f"DELETE /group/leaveGroup{_I}": Doc(
        "Leave a group", "Leave the group named by `?groupJid=`." + _NEEDS_OPEN
    ),
    # --- label --------------------------------------------------------------------------
    f"POST /call/offer{_I}": Doc(
        "Place a call (refused)",
        "Answers 501 on every engine: wagate places no calls (Evolution answers 201 and "
        "places none). The body is checked first: `number`, `callDuration` 1 to 15, `isVideo`.",
        body={"number": NUMBER, "callDuration": 5, "isVideo": False},
    ),
    f"GET /label/findLabels{_I}": Doc("Labels", "The account's WhatsApp Business labels."),
    f"POST /label/handleLabel{_I}": Doc(
        "Label a chat",
        "Add (`add`) or remove (`remove`) a label on a chat." + _NEEDS_OPEN,
        body={"number": NUMBER, "labelId": "1", "action": "add"},
    ),
    # --- sim ----------------------------------------------------------------------------
    "POST /sim/network": Doc(
        "Take the simulated network down or up",
        "With `up: false` every simulated connection drops and none can be made.",
        body={"up": False},
    ),
    "POST /sim/{instance}/scan": Doc(
        "Scan the QR code",
        "The simulated phone scans the instance's current QR code (or enters its pairing "
        "code), as a user would; the instance opens.",
        body={"number": NUMBER},
    ),
    "POST /sim/{instance}/disconnect": Doc(
        "Drop the connection",
        "Close the instance's simulated socket with a code (e.g. 428 lost, 401 unlinked).",
        body={"code": 428},
    ),
    "POST /sim/{instance}/faults": Doc(
        "Inject faults",
        "Make the next logout fail, the socket be already closed, the open arrive without an "
        "identity, or one database write fail.",
        body={"logoutFails": True},
    ),
    "GET /sim/{instance}/stats": Doc(
        "Simulated session counters",
        "Connects and live sessions seen by the simulator, the proxy the current or last "
        "session dialed through (`proxy`, null when direct) and the presence the account last "
        "announced (`presence`: available, unavailable or null).",
    ),
    "POST /sim/{instance}/call": Doc(
        "A phone calls the instance",
        "The phone of `from` (another instance's account or a simulated contact) calls the "
        "account the instance is open as: the CALL event, and rejectCall / msgCall answer it.",
        body={"from": "5511988887777", "video": False},
    ),
    "GET /sim/{instance}/calls/{callId}": Doc(
        "Where a simulated call stands",
        "A call placed with /sim/{instance}/call: `offer` while it rings, `rejected` once the "
        "instance rejected it.",
    ),
    "POST /sim/{instance}/vote": Doc(
        "Vote on a poll",
        "The phone of the account the instance is open as votes on a poll it sent or "
        "received (`options: []` withdraws its vote); the poll's chat gets the vote.",
        body={"poll": "3EB0A0B1C2D3E4F5", "options": ["Pizza"]},
    ),
    "GET /sim/{instance}/devices": Doc(
        "Linked devices on the phone",
        "The devices linked to the account the instance is open as, with the name and browser "
        "each announced (CONFIG_SESSION_PHONE_CLIENT / CONFIG_SESSION_PHONE_NAME).",
    ),
    "POST /sim/contacts": Doc(
        "Add a simulated contact",
        "A phone with no linked instance, to send to and hear from.",
        body={"number": "5511988887777", "pushName": "Bruno"},
    ),
    "POST /sim/{instance}/inbound": Doc(
        "Receive a message",
        "A simulated contact sends the instance a text or media.",
        body={"from": "5511988887777", "text": "Hi there", "pushName": "Bruno"},
    ),
    "POST /sim/{instance}/history": Doc(
        "Add past messages",
        "Messages the account had before pairing, delivered as a history sync.",
        body={"messages": [{"contact": "5511988887777", "text": "Last week's note"}]},
    ),
}
