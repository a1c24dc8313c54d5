"""Local fake providers (Twilio, BuilderBot, ElevenLabs) speaking the real HTTP formats on loopback, for tests, the
simulator and benchmarks."""
