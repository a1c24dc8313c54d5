app_name = "interactions-api"

urlpatterns: list = []
