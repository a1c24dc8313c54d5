import requests
from django.core.management.base import BaseCommand, CommandError

from simulators import voice_simulate  # noqa: F401 (registers the voice agent's simulations)
from simulators.simulate import SCENARIOS, SIMULATIONS, SimulationOptions, simulation_request


class Command(BaseCommand):
    help = (
        "Post a realistic, correctly authenticated provider delivery (token and signature from the settings) to a "
        "running server, to see the whole flow without provider accounts. "
        "Examples: simulate_webhook elevenlabs post_call_transcription; simulate_webhook builderbot message.incoming; "
        "simulate_webhook twilio delivered --message-sid SM...; "
        "simulate_webhook elevenlabs tool-otp (the voice agent's whole OTP exchange, run locally against a fake Twilio)"
    )

    def add_arguments(self, parser):
        parser.add_argument("provider", help="elevenlabs, builderbot or twilio (or one registered by another app)")
        parser.add_argument("event", help="the event to simulate (an unknown one lists them all)")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (default the local one)")
        parser.add_argument("--phone", default="+5215512345678", help="the customer's number")
        parser.add_argument("--conversation-id", default="", help="ElevenLabs conversation id (default: a new one)")
        parser.add_argument("--message-sid", default="", help="Twilio MessageSid of the message the status is for")
        parser.add_argument("--message-id", default="", help="BuilderBot message id (default: none, body hashed)")
        parser.add_argument("--text", default="", help="the customer's words")
        parser.add_argument("--repeat", type=int, default=1, help="send the same delivery this many times")
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options):
        options_ = SimulationOptions(
            phone=options["phone"],
            conversation_id=options["conversation_id"],
            message_sid=options["message_sid"],
            message_id=options["message_id"],
            text=options["text"],
        )
        runner = SCENARIOS.get(options["provider"], {}).get(options["event"])
        if runner is not None:
            try:
                runner(options_, self.stdout.write)
            except (ValueError, requests.RequestException) as exc:
                raise CommandError(f"simulated {options['provider']} {options['event']} failed: {exc}") from exc
            self.stdout.write(self.style.SUCCESS(f"simulated {options['provider']} {options['event']} locally"))
            return
        try:
            request = simulation_request(
                options["provider"], options["event"], base_url=options["url"], options=options_
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        outcomes = []
        for _ in range(max(options["repeat"], 1)):
            try:
                response = requests.post(
                    request.url, data=request.body, headers=request.headers, timeout=options["timeout"]
                )
            except requests.RequestException as exc:
                raise CommandError(f"could not reach {request.url}: {type(exc).__name__}") from exc
            outcomes.append(response.status_code)
            self.stdout.write(f"{response.status_code} {response.text[:500]}")
        ok = all(200 <= code < 300 for code in outcomes)
        line = f"simulated {options['provider']} {options['event']} to {request.url}: {outcomes}"
        if not ok:
            raise CommandError(line)
        self.stdout.write(self.style.SUCCESS(line))


__all__ = ["SIMULATIONS", "Command"]
