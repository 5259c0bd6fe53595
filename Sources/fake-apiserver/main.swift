print("fake-apiserver: being written")
