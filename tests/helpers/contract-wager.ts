/** The contract's example wager (docs/contract.md), as a game server writes it: the base of the wager tables. */
export const CONTRACT_WAGER = {
  eventId: '0b6f0c1e-4d4f-4f5e-9a43-8d2b1f0f6a10',
  occurredAt: '2026-11-29T12:00:00.123Z',
  gameId: 'starburst-eu',
  playerId: 'p-12345',
  currency: 'EUR',
  amountMinor: 250,
} as const;
