app_name = "otp-api"

urlpatterns: list = []
